"""The one-machine stack: emulators, every function, the scheduler loop, an SMTP sink."""
