"""Workers: run generators for tasks taken from the queues."""
