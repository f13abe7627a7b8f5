"""Program-based document rewriting: the program language, its executor and the prompts."""
