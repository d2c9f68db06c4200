import SloMoCommandLine

SlomoCtl.main()
