"""LLM backends: one small interface (generate, chat, structured JSON output), local transformers first."""
