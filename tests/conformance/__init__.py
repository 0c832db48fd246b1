"""Golden-transcript conformance tests: parser, player and the runs against the emulator."""
