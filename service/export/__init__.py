"""The export engine: JSON in, tables out, then xlsx or CSV. Pure: no Flask, no boto3.

- ``model``: the table model and the values rows are made of;
- ``tables``: the survey pass (document -> ``TableModel``) and the row pass (-> typed rows);
- ``xlsx``, ``csvfile``: writers from the row stream to a file.
"""
