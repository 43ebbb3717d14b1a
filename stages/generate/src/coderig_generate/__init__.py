"""coderig generate: benchmark prompts through vLLM or an OpenAI-compatible server."""

__version__ = "0.1.0"
