"""The golden-transcript language: what goes over the serial line, byte for
byte, and what network peers send and receive (tests/conformance/
transcripts/README.md defines it). ``load`` parses a file, ``Player`` plays
it on a serial fd, ``run_transcript`` plays it against a fresh emulator.
``sim800emu check FILE...`` runs your own transcripts."""

from .language import Transcript, load
from .player import Player, TranscriptFailure
from .runner import CaseResult, run_transcript

__all__ = ["CaseResult", "Player", "Transcript", "TranscriptFailure", "load", "run_transcript"]
