"""The Python logic the jobs run: pure-Python cores that work with or without a JVM."""
