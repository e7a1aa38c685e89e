"""Publishing events: the library services embed, and the simulator."""
