from agnoctl.cli import main

main()
