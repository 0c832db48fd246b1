"""sim800emu: a software SIMCom SIM800 GPRS module."""

__version__ = "0.1.0"
