"""Support code the tests share: paths, the Docker requirement, and readers/writers for the
files compose-gen reads and writes. Test modules import from here (or use conftest
fixtures), never from one another, so moving or deleting a test never breaks another."""
