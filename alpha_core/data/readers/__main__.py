"""``python -m alpha_core.data.readers``: print the README's list of file formats."""

from alpha_core.data.readers import format_list

print(format_list())
