"""Power Balance: read-only queries, index maths and charts for the provider → enabler dashboard.

Importing this package never touches Streamlit; pages call these functions.
"""

__version__ = "0.1.0"
