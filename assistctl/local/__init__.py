"""The embedded account, speaking the Assistants API and the Responses era (responses,
conversations, models): start it in this process or serve it.

``start_in_process`` backs ``--account local[:DIR]`` and the test fixtures; ``assistctl local
serve`` runs the same app in the foreground (``assistctl.local.serve.serve``). Inside, the
account has rooms with one door each: ``api`` (HTTP) -> ``domain`` (the API's rules) ->
``storage`` (the only SQL), and the ``engines`` that answer runs and responses.
"""

from assistctl.local.config import LocalConfig, config_from_env, parse_model_map, serve_config
from assistctl.local.in_process import LocalServer, start_in_process

__all__ = [
    "LocalConfig",
    "LocalServer",
    "config_from_env",
    "parse_model_map",
    "serve_config",
    "start_in_process",
]
