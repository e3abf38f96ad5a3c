"""The event factories' parts, behind the public `pytest_fginit.events`. [test process]

`templates` holds the console's test events verbatim, `checks` the argument checks that name
the argument, `apig` the API Gateway request and the response contract, `loading` the reading
of saved test events (JSON files, Terraform resources).
"""
