"""Status-change buses behind one port: Redis pub/sub for the fleet, in-process for local mode."""

from stigmer_api.bus.base import Bus, execution_channel

__all__ = ["Bus", "execution_channel"]
