from assistctl.cli import main

main()
