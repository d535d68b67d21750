from msnet.cli import main

main()
