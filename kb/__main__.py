from .entry import kb

kb()
