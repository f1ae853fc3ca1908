"""pytest plugin (entry point `pytest11`): inert until a compose-gen task is found."""
