"""Services handed to every job."""


class Services:
    greeting = "hello"


def create_services() -> Services:
    return Services()
