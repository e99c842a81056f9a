"""assistctl: keep OpenAI assistants in git."""

__version__ = "0.2.0"
