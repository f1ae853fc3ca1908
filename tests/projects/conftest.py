# The fixture projects carry their own test suites (run from their own folders, with their
# own settings and pytest config); compose-gen's suite must not collect them.
collect_ignore_glob = ["shape_*"]
