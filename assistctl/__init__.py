"""assistctl: keep OpenAI assistants in git."""

__version__ = "0.1.0"
