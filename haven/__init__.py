"""What every part of Haven shares and nothing else: the error family, the shared API
and page plumbing, case references, URL converters, and the rules that keep survivor
data out of logs and error messages."""
