from agnoctl.cli import console

console()
