"""The kernel: the organisations of the network (the tenants) and their registry."""
