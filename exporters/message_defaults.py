"""The built-in message texts per trigger, channel and language (English, Polish, Russian)."""
from __future__ import annotations

# (trigger, channel, language) → (subject, body)
DEFAULTS: dict[tuple[str, str, str], tuple[str, str]] = {
    ("points.credited", "sms", "en"): ("", "You earned {{ amount }} points. Your balance: {{ balance }} points."),
    ("points.credited", "sms", "pl"): ("", "Otrzymujesz {{ amount }} pkt. Twoje saldo: {{ balance }} pkt."),
    ("points.credited", "sms", "ru"): ("", "Вам начислено {{ amount }} баллов. Ваш баланс: {{ balance }} баллов."),
    ("points.credited", "email", "en"): (
        "You earned {{ amount }} points",
        "Hello {{ member_name }},\n\nyou earned {{ amount }} points. Your balance is now {{ balance }} points."),
    ("points.credited", "email", "pl"): (
        "Otrzymujesz {{ amount }} pkt",
        "Dzień dobry {{ member_name }},\n\notrzymujesz {{ amount }} pkt. Twoje saldo: {{ balance }} pkt."),
    ("points.credited", "email", "ru"): (
        "Вам начислено {{ amount }} баллов",
        "Здравствуйте, {{ member_name }}!\n\nВам начислено {{ amount }} баллов. Ваш баланс: {{ balance }} баллов."),
    ("points.expiring", "sms", "en"): ("", "{{ points }} of your points expire on {{ expires_on }}."),
    ("points.expiring", "sms", "pl"): ("", "{{ points }} Twoich pkt wygaśnie {{ expires_on }}."),
    ("points.expiring", "sms", "ru"): ("", "{{ points }} ваших баллов сгорят {{ expires_on }}."),
    ("points.expiring", "email", "en"): (
        "{{ points }} points expire on {{ expires_on }}",
        "Hello {{ member_name }},\n\n{{ points }} of your points expire on {{ expires_on }}. "
        "Your balance is {{ balance }} points."),
    ("points.expiring", "email", "pl"): (
        "{{ points }} pkt wygaśnie {{ expires_on }}",
        "Dzień dobry {{ member_name }},\n\n{{ points }} Twoich pkt wygaśnie {{ expires_on }}. "
        "Twoje saldo: {{ balance }} pkt."),
    ("points.expiring", "email", "ru"): (
        "{{ points }} баллов сгорят {{ expires_on }}",
        "Здравствуйте, {{ member_name }}!\n\n{{ points }} ваших баллов сгорят {{ expires_on }}. "
        "Ваш баланс: {{ balance }} баллов."),
    ("digest.monthly", "sms", "en"): ("", "{{ month }}: +{{ earned }} / -{{ spent }} points. Balance: {{ balance }}."
                                          "{% if expiring|float > 0 %} {{ expiring }} expire within 30 days."
                                          "{% endif %}"),
    ("digest.monthly", "sms", "pl"): ("", "{{ month }}: +{{ earned }} / -{{ spent }} pkt. Saldo: {{ balance }} pkt."
                                          "{% if expiring|float > 0 %} {{ expiring }} pkt wygaśnie w ciągu 30 dni."
                                          "{% endif %}"),
    ("digest.monthly", "sms", "ru"): ("", "{{ month }}: +{{ earned }} / -{{ spent }} баллов. Баланс: {{ balance }}."
                                          "{% if expiring|float > 0 %} {{ expiring }} сгорят в течение 30 дней."
                                          "{% endif %}"),
    ("digest.monthly", "email", "en"): (
        "Your points in {{ month }}",
        "Hello {{ member_name }},\n\nin {{ month }} you earned {{ earned }} points and spent {{ spent }}"
        "{% if expired|float > 0 %}; {{ expired }} expired{% endif %}.\nYour balance is {{ balance }} points"
        " ({{ available }} to spend now).{% if expiring|float > 0 %}\n{{ expiring }} points expire within 30 days."
        "{% endif %}"),
    ("digest.monthly", "email", "pl"): (
        "Twoje punkty w {{ month }}",
        "Dzień dobry {{ member_name }},\n\nw {{ month }} zdobyto {{ earned }} pkt, wydano {{ spent }} pkt"
        "{% if expired|float > 0 %}, wygasło {{ expired }} pkt{% endif %}.\nTwoje saldo: {{ balance }} pkt"
        " (do wydania teraz: {{ available }}).{% if expiring|float > 0 %}\n{{ expiring }} pkt wygaśnie w ciągu 30 dni."
        "{% endif %}"),
    ("digest.monthly", "email", "ru"): (
        "Ваши баллы за {{ month }}",
        "Здравствуйте, {{ member_name }}!\n\nЗа {{ month }} начислено {{ earned }} баллов, потрачено {{ spent }}"
        "{% if expired|float > 0 %}, сгорело {{ expired }}{% endif %}.\nВаш баланс: {{ balance }} баллов"
        " (доступно сейчас: {{ available }}).{% if expiring|float > 0 %}\n{{ expiring }} баллов сгорят в течение"
        " 30 дней.{% endif %}"),
    ("mission.completed", "sms", "en"): ("", "Mission \"{{ mission }}\" completed: +{{ reward }} points. "
                                             "Balance: {{ balance }}."),
    ("mission.completed", "sms", "pl"): ("", "Misja \"{{ mission }}\" ukończona: +{{ reward }} pkt. "
                                             "Saldo: {{ balance }} pkt."),
    ("mission.completed", "sms", "ru"): ("", "Миссия «{{ mission }}» выполнена: +{{ reward }} баллов. "
                                             "Баланс: {{ balance }}."),
    ("mission.completed", "email", "en"): (
        "Mission completed: {{ mission }}",
        "Hello {{ member_name }},\n\nyou completed \"{{ mission }}\" and earned {{ reward }} points. "
        "Your balance is {{ balance }} points."),
    ("mission.completed", "email", "pl"): (
        "Misja ukończona: {{ mission }}",
        "Dzień dobry {{ member_name }},\n\nmisja \"{{ mission }}\" ukończona: otrzymujesz {{ reward }} pkt. "
        "Twoje saldo: {{ balance }} pkt."),
    ("mission.completed", "email", "ru"): (
        "Миссия выполнена: {{ mission }}",
        "Здравствуйте, {{ member_name }}!\n\nВы выполнили миссию «{{ mission }}» и получили {{ reward }} баллов. "
        "Ваш баланс: {{ balance }} баллов."),
    ("tier.changed", "sms", "en"): ("", "Your tier is now {{ tier }} (was {{ previous_tier }})."),
    ("tier.changed", "sms", "pl"): ("", "Twój poziom to teraz {{ tier }} (wcześniej {{ previous_tier }})."),
    ("tier.changed", "sms", "ru"): ("", "Ваш уровень теперь {{ tier }} (был {{ previous_tier }})."),
    ("tier.changed", "email", "en"): (
        "Your tier is now {{ tier }}",
        "Hello {{ member_name }},\n\n{% if direction == 'up' %}congratulations! {% endif %}"
        "your tier changed from {{ previous_tier }} to {{ tier }}."),
    ("tier.changed", "email", "pl"): (
        "Twój poziom: {{ tier }}",
        "Dzień dobry {{ member_name }},\n\n{% if direction == 'up' %}gratulacje! {% endif %}"
        "Twój poziom zmienił się z {{ previous_tier }} na {{ tier }}."),
    ("tier.changed", "email", "ru"): (
        "Ваш уровень: {{ tier }}",
        "Здравствуйте, {{ member_name }}!\n\n{% if direction == 'up' %}Поздравляем! {% endif %}"
        "Ваш уровень изменился: {{ previous_tier }} → {{ tier }}."),
    ("reward_order.status_changed", "sms", "en"): ("", "Your reward order {{ order_number }} ({{ reward }}): "
                                                       "{{ status }}."),
    ("reward_order.status_changed", "sms", "pl"): ("", "Zamówienie nagrody {{ order_number }} ({{ reward }}): "
                                                       "{{ status }}."),
    ("reward_order.status_changed", "sms", "ru"): ("", "Заказ награды {{ order_number }} ({{ reward }}): "
                                                       "{{ status }}."),
    ("reward_order.status_changed", "email", "en"): (
        "Reward order {{ order_number }}: {{ status }}",
        "Hello {{ member_name }},\n\nyour order {{ order_number }} for {{ reward }} is now {{ status }} "
        "(was {{ previous_status }})."),
    ("reward_order.status_changed", "email", "pl"): (
        "Zamówienie nagrody {{ order_number }}: {{ status }}",
        "Dzień dobry {{ member_name }},\n\nstatus zamówienia {{ order_number }} ({{ reward }}): {{ status }} "
        "(wcześniej {{ previous_status }})."),
    ("reward_order.status_changed", "email", "ru"): (
        "Заказ награды {{ order_number }}: {{ status }}",
        "Здравствуйте, {{ member_name }}!\n\nСтатус заказа {{ order_number }} ({{ reward }}): {{ status }} "
        "(был {{ previous_status }})."),
}

# What a preview and a test message show for each documented variable.
SAMPLES = {"member_name": "Anna Nowak", "loyalty_id": "1000001", "amount": "25", "balance": "120",
           "available": "95", "points": "40", "expires_on": "2026-12-31", "month": "2026-11", "earned": "60",
           "spent": "30", "expired": "0", "expiring": "40", "mission": "Buy 300 PLN of tools", "reward": "50",
           "tier": "Gold", "previous_tier": "Silver", "direction": "up", "order_number": "R-1024",
           "status": "shipped", "previous_status": "paid"}
