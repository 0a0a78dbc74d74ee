"""Loopback fakes of the services CCM talks to, speaking their documented wire formats."""
