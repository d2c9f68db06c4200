print("slomoctl")
