"""One module per page; each checks the role again and reads like a story: get data, analyse, draw."""
