def load_demo():
    return "todo"
