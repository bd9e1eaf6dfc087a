"""What the demo workload's calls say: a few short prompts and answers per app, and refusals.

Short on purpose: the worker's rule-based quality signals judge every sampled call, and the demo sends tens
of thousands of calls in about a minute. Written for the demo (not taken from any test corpus); no names,
addresses or other personal data, so nothing here is PII. An answer is chosen with its prompt; a refused
call gets one of ``REFUSALS`` instead of its answer.
"""

from __future__ import annotations

#: app -> (prompt, answer) pairs
EXCHANGES: dict[str, tuple[tuple[str, str], ...]] = {
    "code-assistant": (
        ("Write a Python function that checks whether a string is a palindrome, ignoring case and spaces.",
         "def is_palindrome(s: str) -> bool:\n    t = ''.join(c.lower() for c in s if c.isalnum())\n"
         "    return t == t[::-1]"),
        ("Why does this loop never stop?\n\ni = 0\nwhile i < 10:\n    print(i)",
         "Nothing inside the loop changes i, so i < 10 stays true forever. Add i += 1 after the print."),
        ("Rewrite as a list comprehension: out = []; for x in xs: if x > 0: out.append(x * 2)",
         "out = [x * 2 for x in xs if x > 0]"),
        ("How do I read a JSON config file in Node.js?",
         "const config = JSON.parse(fs.readFileSync('config.json', 'utf8'));\nOr, in an ES module: "
         "import config from './config.json' with { type: 'json' };"),
        ("What does this regex match: ^\\d{4}-\\d{2}-\\d{2}$",
         "A whole string that is a date written as four digits, a dash, two digits, a dash and two digits, "
         "like 2024-05-17. It does not check that the month or day are valid."),
    ),
    "support-bot": (
        ("How do I reset my password?",
         "Go to Settings > Security and choose Reset password. We will email you a link that works for 30 "
         "minutes."),
        ("My order still hasn't arrived and it's been a week.",
         "Sorry for the wait! Standard shipping takes 5 to 7 business days. You can follow the parcel from the "
         "Orders page; if it has not moved for two days, reply here and we will send a replacement."),
        ("Can I switch to the annual plan?",
         "Yes: open Billing, pick Change plan and select Annual. The difference is prorated on your next "
         "invoice."),
        ("Do you ship to Canada?",
         "We do. Delivery to Canada takes 7 to 10 business days and duties are included at checkout."),
    ),
    "doc-search": (
        ("How long are audit logs kept?",
         "Audit logs are kept for 400 days (Admin guide, Data retention, section 4.2)."),
        ("Where are the API rate limits documented?",
         "In the API reference under Limits: 600 requests per minute per key, with bursts of up to 100."),
        ("How do I set up single sign-on?",
         "Under Admin > Authentication, upload your identity provider's metadata XML and map the email "
         "attribute. Test with a second admin account before enforcing it."),
        ("Which regions can data be stored in?",
         "Workspaces can be hosted in the EU (Frankfurt) or the US (Virginia); the region is chosen when the "
         "workspace is created."),
    ),
    "sql-copilot": (
        ("Total revenue per month in 2024 from the orders table",
         "SELECT date_trunc('month', created_at) AS month, sum(amount) AS revenue\nFROM orders\n"
         "WHERE created_at >= '2024-01-01' AND created_at < '2025-01-01'\nGROUP BY 1 ORDER BY 1;"),
        ("Top 10 customers by number of orders",
         "SELECT customer_id, count(*) AS orders FROM orders GROUP BY customer_id ORDER BY orders DESC LIMIT 10;"),
        ("Users who signed up but never logged in",
         "SELECT u.id FROM users u LEFT JOIN logins l ON l.user_id = u.id WHERE l.user_id IS NULL;"),
        ("Average basket size per weekday",
         "SELECT extract(dow FROM created_at) AS weekday, avg(amount) AS avg_basket FROM orders GROUP BY 1 "
         "ORDER BY 1;"),
    ),
    "email-drafter": (
        ("Draft a short reminder that invoice 4411 is overdue.",
         "Hello,\n\nA friendly reminder that invoice 4411, due on the 3rd, is still open. Could you let us "
         "know when we can expect the payment?\n\nBest regards"),
        ("Write a thank-you note to the team for shipping the release.",
         "Team, thank you for the careful reviews and the long evenings that got this release out on "
         "schedule. Great work, everyone."),
        ("Politely decline Friday's meeting invitation.",
         "Thanks for the invitation. I can't join on Friday, unfortunately; could you share the notes "
         "afterwards? I will follow up on anything that needs me."),
        ("Announce that the office is closed next Monday.",
         "Hi all, a quick note that the office will be closed next Monday for the public holiday. Remote "
         "work is available as usual."),
    ),
    "triage-router": (
        ("Customer reports the app crashes when uploading photos.",
         "category: bug; component: mobile-upload; priority: high"),
        ("The amount on my invoice looks wrong.",
         "category: billing; component: invoices; priority: medium"),
        ("Please add a dark mode to the dashboard.",
         "category: feature-request; component: web-dashboard; priority: low"),
        ("I cannot log in since this morning.",
         "category: access; component: authentication; priority: high"),
    ),
}

#: an assistant declining to answer, in the ways production models do
REFUSALS: tuple[str, ...] = (
    "I'm sorry, but I can't help with that request.",
    "I can't assist with that. Is there something else I can help you with?",
    "Unfortunately, I'm not able to provide that information.",
    "I won't be able to do that, as it goes against the usage policy.",
    "Sorry, I cannot share details about other customers' accounts.",
    "As an AI assistant, I'm unable to complete this request.",
    "I'm not able to generate that content.",
    "That's not something I can help with, sorry.",
    "I apologize, but I must decline this request.",
    "I'm afraid I can't do that. Please contact your administrator for access.",
)
