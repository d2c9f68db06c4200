import SloMoCommandLine

Slomod.main()
