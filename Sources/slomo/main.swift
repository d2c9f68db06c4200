print("slomo")
