project = "shape_b"
extensions: list[str] = []
html_theme = "alabaster"
