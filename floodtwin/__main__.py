from floodtwin.cli import main

main()
