"""Regenerate ``support-chat.jsonl``: fictional customer-support dialogues for Nova Micro (converse format).

Deterministic (no randomness): ``python events/datasets/generate_support_chat.py``. Every name, order number and
address is invented; the store, Northwind Home Goods, is fictional.
"""

from __future__ import annotations

import json
from pathlib import Path

RECORDS = 120
SYSTEM = "You are the support agent of Northwind Home Goods, a fictional store. Answer briefly, kindly and accurately."
PRODUCTS = [
    "electric kettle",
    "desk lamp",
    "stand mixer",
    "air purifier",
    "coffee grinder",
    "toaster",
    "cordless vacuum",
    "rice cooker",
    "ceiling fan",
    "water filter jug",
    "blender",
    "heated blanket",
]
# (question, answer, follow-up question, follow-up answer); {product} and {order} are filled in, and every first
# answer ends with a unique case number so no two records are alike.
TOPICS = [
    (
        "Where is my order {order}? I ordered the {product} last week.",
        "Order {order} left our warehouse yesterday and should arrive within three working days. "
        "You will get a tracking link by email today.",
        "Can I change the delivery address?",
        "Yes, as long as it has not been handed to the courier. Reply with the new address and I will update it.",
    ),
    (
        "My {product} stopped working after two weeks. What can I do?",
        "I am sorry to hear that. The {product} has a two-year warranty, so we can replace it. "
        "Could you confirm the order number?",
        "It is {order}.",
        "Thank you. I have started a replacement for order {order}; a prepaid return label is on its way by email.",
    ),
    (
        "How do I return the {product} I no longer need?",
        "You can return unused items within 30 days. Start the return from your account page under Orders, "
        "then print the label and drop the parcel at any post office.",
        "Is the return shipping free?",
        "Return shipping is free for orders over 40 euros; otherwise we deduct 4.95 euros from the refund.",
    ),
    (
        "I was charged twice for order {order}.",
        "Thank you for telling us. I can see two authorisations for order {order}; the duplicate is released "
        "automatically by your bank within five working days.",
        "What if it is still there next week?",
        "Then write to us again with a screenshot of the statement and we will refund it directly.",
    ),
    (
        "I forgot my password and the reset email never arrives.",
        "Please check the spam folder first. If it is not there, I can send the reset link again to the address "
        "on your account.",
        "Please send it again.",
        "Done. The new link is valid for one hour.",
    ),
    (
        "Does the {product} work with 110 volt sockets?",
        "Our {product} is designed for 220 to 240 volts. Using it on 110 volts needs a step-up converter, "
        "which we do not recommend.",
        "Do you sell a version for 110 volts?",
        "Not at the moment, but I can let you know when one becomes available.",
    ),
    (
        "Can I cancel order {order}? I chose the wrong colour.",
        "Order {order} has not shipped yet, so I have cancelled it. The refund reaches your card within three "
        "working days.",
        "Thanks. Can I order the grey one instead?",
        "Of course. The grey {product} is in stock and ships tomorrow if you order today.",
    ),
    (
        "The {product} arrived with a cracked lid.",
        "I am sorry it arrived damaged. Could you send a photo of the lid and the box to our support address? "
        "We will ship a new one straight away.",
        "I sent the photo a minute ago.",
        "Received, thank you. A new {product} is on its way and you can keep the damaged one.",
    ),
    (
        "How do I descale my {product}?",
        "Fill it with equal parts water and white vinegar, let it stand for an hour, then rinse it three times "
        "with clean water.",
        "How often should I do that?",
        "Once a month in areas with hard water, every three months otherwise.",
    ),
    (
        "Do you deliver to the islands?",
        "Yes, we deliver to all islands. Delivery there takes two extra working days and costs 6 euros.",
        "Is there free delivery above some amount?",
        "Delivery to the islands is free for orders over 80 euros.",
    ),
]


def record(index: int) -> dict[str, object]:
    question, answer, follow_up, follow_answer = TOPICS[index % len(TOPICS)]
    values = {"product": PRODUCTS[(index * 7) % len(PRODUCTS)], "order": f"NW-{10000 + index * 37}"}
    answer += f" Your case number is C-{20500 + index}."
    turns = [question, answer] + ([follow_up, follow_answer] if index % 3 == 0 else [])
    messages = [
        {"role": "user" if turn % 2 == 0 else "assistant", "content": [{"text": text.format(**values)}]}
        for turn, text in enumerate(turns)
    ]
    return {"schemaVersion": "bedrock-conversation-2024", "system": [{"text": SYSTEM}], "messages": messages}


def main() -> None:
    target = Path(__file__).with_name("support-chat.jsonl")
    lines = [json.dumps(record(index), ensure_ascii=False) for index in range(RECORDS)]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
