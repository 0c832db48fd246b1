"""SMS: the TPDU codec (``pdu``), the message storages (``store``) and the
family's state and rules (``service``)."""
