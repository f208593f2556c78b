# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tracing.xray sample application: a front end whose ``/api`` calls a back end, traced with the X-Ray SDK.

``python -m xray_sample frontend`` / ``python -m xray_sample backend`` run the two services;
``xray_sample.loadgen`` sends a bounded number of requests to a loopback address;
``xray_sample.local`` runs both services as local processes (the sandbox and the tests use it).
"""

__version__ = "0.1.0"
