"""The fake OpenAI Responses endpoint a REAL codex talks to (model_provider `fake`): scenario
replies as SSE, every request recorded for assertions. Standard library only.
"""
