VERSION = "py-v2"
