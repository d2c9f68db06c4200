import SloMoCommandLine

// Also slomod and slomoctl, when started by those names (the package links them to this binary).
Tool.main()
