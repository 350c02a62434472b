"""The daemon's side of the `serve` protocol: the client that starts and talks to a `serve` child
(`client`) and the reference host the demo and the tests drive (`host`)."""
