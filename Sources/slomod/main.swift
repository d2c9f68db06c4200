print("slomod")
