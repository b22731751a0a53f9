"""genrec serve: the generative loop as a web service (REST API + browser UI) for many users at once."""
