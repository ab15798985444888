"""Response and request shapes (pydantic) shared by the API, the services and the callbacks.

They sit below every layer that uses them: the API imports them, never the other way round.
"""
