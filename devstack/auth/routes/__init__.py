"""The endpoint groups; devstack.auth.service combines them into one router."""
