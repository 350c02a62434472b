"""`codex exec [resume]`: strict argv, the prompt from argv or stdin, one turn on the agent loop,
`--json` events on stdout, the rollout and the invocation log written like codex.
"""
