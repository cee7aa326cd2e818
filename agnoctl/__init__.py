"""agnoctl: a declarative, CI-native runner for multi-agent LLM workflows."""

__version__ = "0.1.0"

__all__ = ["__version__"]
