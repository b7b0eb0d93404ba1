VERSION = "py-v1"
