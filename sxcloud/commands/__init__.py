"""One module per `sxcloud` command: `register(subparsers)` and `run(args) -> int`."""
